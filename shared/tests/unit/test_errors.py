"""The one error shape: every kind of refusal a service's app can give reads the same."""

from fastapi import HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from tsunagu.shared.auth import AuthError
from tsunagu.shared.errors import ApiError
from tsunagu.shared.http import create_app

KEYS = {"code", "message", "message_en"}


class Body(BaseModel):
    name: str = Field(max_length=5)


def _client() -> TestClient:
    app = create_app(title="t", service="t", login_url="/login", readiness=[], max_body_bytes=100)

    @app.post("/items")
    async def items(body: Body) -> dict[str, str]:
        return {"name": body.name}

    @app.get("/bilingual")
    async def bilingual() -> None:
        raise HTTPException(403, "管理者のみ (admins only)")

    @app.get("/japanese")
    async def japanese() -> None:
        raise HTTPException(409, "この窓口にはすでに紹介しています")

    @app.get("/english")
    async def english() -> None:
        raise HTTPException(401, "service credential required")

    @app.get("/fields")
    async def fields() -> None:
        raise HTTPException(422, [{"loc": ["body", "facts"], "msg": "bad", "type": "value_error"}])

    @app.get("/specific")
    async def specific() -> None:
        raise ApiError(409, "out_of_stock", "在庫切れです", "Out of stock", remaining={"a": 0})

    @app.get("/unavailable")
    async def unavailable() -> None:
        raise HTTPException(503, "一時的に利用できません (sign-in check unavailable)")

    @app.get("/login-needed")
    async def login_needed() -> None:
        raise AuthError("no token")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("秘密の値 080-1234-5678")

    return TestClient(app, raise_server_exceptions=False)


def test_every_refusal_has_code_and_both_messages():
    client = _client()
    answers = {
        "bilingual": client.get("/bilingual"),
        "japanese": client.get("/japanese"),
        "english": client.get("/english"),
        "unknown route": client.get("/nowhere"),
        "wrong method": client.delete("/items"),
        "too large": client.post("/items", content=b"x" * 200),
        "login": client.get("/login-needed", headers={"Accept": "application/json"}),
        "boom": client.get("/boom"),
        "specific": client.get("/specific"),
        "unavailable": client.get("/unavailable"),
    }
    for name, response in answers.items():
        body = response.json()
        assert body.keys() >= KEYS, (name, body)
        assert "detail" not in body, name
        assert not body["message"].isascii(), (name, body)  # Japanese for people
        assert body["message_en"].isascii(), (name, body)

    assert answers["bilingual"].json() == {
        "code": "forbidden",
        "message": "管理者のみ",
        "message_en": "admins only",
    }
    assert answers["japanese"].json()["message"] == "この窓口にはすでに紹介しています"
    assert answers["english"].json()["message_en"] == "service credential required"
    assert answers["unknown route"].json()["code"] == "not_found"
    assert answers["wrong method"].json()["code"] == "method_not_allowed"
    assert answers["too large"].status_code == 413
    assert answers["too large"].json()["code"] == "too_large"
    assert answers["login"].json()["code"] == "unauthenticated"
    assert answers["login"].headers["www-authenticate"] == "Bearer"
    assert answers["unavailable"].json()["code"] == "unavailable"
    assert int(answers["unavailable"].headers["retry-after"]) > 0
    assert answers["boom"].status_code == 500
    assert "080" not in answers["boom"].text
    assert answers["specific"].json() == {
        "code": "out_of_stock",
        "message": "在庫切れです",
        "message_en": "Out of stock",
        "remaining": {"a": 0},
    }


def test_validation_errors_name_each_field_without_echoing_the_value():
    client = _client()
    response = client.post("/items", json={"name": "川口花子さん"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_input"
    assert body["message"] == "入力内容を確認してください"
    [field] = body["fields"]
    assert field["loc"] == ["body", "name"]
    assert field["type"] == "string_too_long"
    assert field["ctx"] == {"max_length": 5}
    assert "川口" not in response.text
    listed = client.get("/fields").json()
    assert listed["fields"] == [{"loc": ["body", "facts"], "msg": "bad", "type": "value_error"}]


def test_the_openapi_document_describes_the_422_actually_sent():
    schema = _client().get("/openapi.json").json()
    described = schema["components"]["schemas"]["HTTPValidationError"]
    assert set(described["required"]) == KEYS
    assert described["properties"]["fields"]["items"] == {
        "$ref": "#/components/schemas/ValidationError"
    }
