"""One table maps every error to a status; nothing internal leaks from a 500."""

from __future__ import annotations

import inspect
from http import HTTPStatus

import pytest
from apiflask import APIFlask

from pipeserve import errors
from pipeserve.api.problems import STATUS_BY_ERROR, status_for


def _error_classes() -> list[type[errors.PipeserveError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.PipeserveError)
    ]


@pytest.mark.parametrize("error_class", _error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_has_its_own_entry(error_class: type[errors.PipeserveError]) -> None:
    assert error_class in dict(STATUS_BY_ERROR)


def test_request_errors_are_4xx_and_lookup_errors_as_specified() -> None:
    assert status_for(errors.MalformedRequestError("x")) == HTTPStatus.BAD_REQUEST
    assert status_for(errors.InvalidInputError("x")) == HTTPStatus.UNPROCESSABLE_ENTITY
    assert status_for(errors.ModelNotFoundError("x")) == HTTPStatus.NOT_FOUND
    assert status_for(errors.ModelNotReadyError("x")) == HTTPStatus.SERVICE_UNAVAILABLE
    for error_class in _error_classes():
        if issubclass(error_class, errors.RequestError):
            assert 400 <= status_for(error_class("x")) < 500


def test_each_entry_is_reachable_in_table_order() -> None:
    """A subclass listed after its base would never match."""
    seen: list[type[errors.PipeserveError]] = []
    for error_class, _ in STATUS_BY_ERROR:
        assert not any(issubclass(error_class, earlier) for earlier in seen), error_class
        seen.append(error_class)


@pytest.mark.parametrize(
    "raised",
    [RuntimeError("secret path /etc/passwd"), errors.BundleError("secret bundle path")],
    ids=["unexpected", "internal-pipeserve-error"],
)
def test_an_internal_failure_is_a_generic_500_with_the_request_id(
    app: APIFlask, raised: Exception
) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise raised

    response = app.test_client().get("/boom", headers={"X-Request-ID": "req-1"})

    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["request_id"] == "req-1"
    assert "secret" not in response.get_data(as_text=True)
    assert type(raised).__name__ not in response.get_data(as_text=True)
