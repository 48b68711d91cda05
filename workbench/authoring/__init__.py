"""Pure: prompt files, templates, datasets and the prompt library."""
