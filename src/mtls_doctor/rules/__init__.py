"""Pure rules: facts + now → findings → one verdict. No I/O, no clock."""
