"""The dialogue engine: flows as data, a pure state machine, validators. No I/O, no clock."""
