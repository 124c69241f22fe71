"""The length-control stage end to end: generate traces with the SFT model (`hermes4.llm`), build the samples
(`hermes4.train.length_control_data`) and train on them (`hermes4.train`)."""

from hermes4.length_control.stage import generate_traces, run_length_control

__all__ = ["generate_traces", "run_length_control"]
