"""The paper's Table 1 protocol (§4.3): real vs synthetic test sets scored by an AU detector."""
