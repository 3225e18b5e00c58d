"""`python -m ocis_cli` behaves exactly like `ocis` (same program name in help and errors)."""

from ocis_cli.launch import main

if __name__ == "__main__":
    main()
