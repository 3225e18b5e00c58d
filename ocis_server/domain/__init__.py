"""Pure domain: ids, path rules, errors, roles. Imports nothing else of ours."""
