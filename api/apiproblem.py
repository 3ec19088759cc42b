"""The exception that becomes an RFC 9457 problem answer (:mod:`api.problems` renders it);
in a module of its own, free of the web framework, so that the CLI's one-off commands can
raise and catch it without importing FastAPI."""

from __future__ import annotations


class ApiProblem(Exception):  # noqa: N818 - named after RFC 9457 "problem"
    """Raise to answer with a problem: ``ApiProblem(422, "invalid-coordinate", "...")``."""

    def __init__(self, status: int, kind: str, detail: str, title: str | None = None,
                 invalid_params: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail
        self.title = title or kind.replace("-", " ").capitalize()
        self.invalid_params = invalid_params
        self.headers = headers
