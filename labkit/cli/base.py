"""The root `labkit` click group and the error handling every command shares."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from labkit.errors import LabkitError

F = TypeVar("F", bound=Callable[..., Any])


@click.group(help="labkit: learn GitOps by running it for real.")
@click.version_option(package_name="labkit")
def main() -> None:
    pass


def friendly_errors(fn: F) -> F:
    """Turn a LabkitError into a red message on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LabkitError as e:
            click.secho(f"error: {e}", fg="red", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]
