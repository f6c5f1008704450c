"""codebudget: how much correct code does each model buy per unit of inference cost."""

__version__ = "0.1.0"
