"""Training: conversations to packed batches, SFT on FSDP2, length control, export, tiny models."""
