"""workbench: prompt engineering and evaluation for teams that build chatbots."""

__version__ = "0.1.0"
