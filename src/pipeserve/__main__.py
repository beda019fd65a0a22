"""``python -m pipeserve`` runs the CLI."""

from pipeserve.cli import main

if __name__ == "__main__":
    main()
