"""The SFT data pipeline: sessions and transcripts → scrubbed, deduplicated, leak-free splits."""
