"""`hermes4 version`."""

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def version() -> None:
        """Print the hermes4 version."""
        from hermes4 import __version__

        print(__version__)
