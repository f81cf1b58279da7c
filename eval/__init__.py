"""halops eval."""
