"""Plan-square helpers: a task class with items to publish, API helpers. The users and their
clients (`user`/`api`, `other`/`other_api`) come from tests/conftest.py and tests/scheduling/conftest.py."""

from scheduling.models import TaskClass, TaskClassItem
from scheduling.plansquare import services

POSTS = "/api/v1/plan-square/posts/"


def make_class(user, name="Linear algebra", *, items=(("Vectors", 2), ("Matrices", 1), ("Eigenvalues", 3)), **fields):
    task_class = TaskClass.objects.create(user=user, name=name, **fields)
    for order, (title, sections) in enumerate(items, start=1):
        TaskClassItem.objects.create(
            task_class=task_class, user=user, title=title, order=order, estimated_sections=sections
        )
    return task_class


def publish(user, title="线性代数 四周复习计划", *, tags=("考研", "数学"), summary="", **class_fields):
    task_class = make_class(user, name=class_fields.pop("name", f"class of {title}"), **class_fields)
    return services.post_create(author=user, task_class_id=task_class.pk, title=title, summary=summary, tags=tags)


def fullwidth(ascii_text: str) -> str:
    """The full-width form of ASCII letters and digits (as typed with a CJK input method)."""
    return "".join(chr(ord(c) + 0xFEE0) for c in ascii_text)


def error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["code"] == code, body
    return body
