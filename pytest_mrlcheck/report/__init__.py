"""Reports: the plain-data summary of a spec, the terminal tables, and the JSON file."""
