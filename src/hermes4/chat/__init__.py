"""The Hermes prompt format: messages, rendering to text and tokens with loss masks, Jinja export."""
