"""Command-line interface. Commands live one module each and hold no business logic."""
