"""Tools, the tool loops (turn-based and interleaved inside <think>), JSON mode, and the code sandbox."""
