"""Personal data kept to its purpose: keyed hashes, masking, retention and deletion (PIPL)."""
