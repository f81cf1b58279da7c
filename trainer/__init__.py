"""halops trainer."""
