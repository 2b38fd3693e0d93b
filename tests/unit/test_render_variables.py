"""What a template needs is read from its syntax tree: required paths, guarded ones, and the
model Postmark's validate suggests; a model lacking any is refused naming every one."""

from __future__ import annotations

from typing import Any

import pytest

from misiva.domain.templates import TemplateContent
from misiva.render import MissingVariables, check_model, compile_template, render


def _required(html: str) -> set[str]:
    return set(compile_template(TemplateContent(html_body=html), inline=False).required)


REQUIRED = [
    ("a name", "{{ name }}", {"name"}),
    ("nested paths", "{{ person.name }} {{ order.total }}", {"person.name", "order.total"}),
    ("a subscript is a key", "{{ order['total'] }}", {"order.total"}),
    ("a path implies its parents", "{{ order }} {{ order.total }}", {"order.total"}),
    (
        "filters read their input",
        "{{ order.total | money(order.currency) }}",
        {"order.total", "order.currency"},
    ),
    (
        "a loop needs its list",
        "{% for line in order.lines %}{{ line.name }}{% endfor %}",
        {"order.lines"},
    ),
    ("loop items are local", "{% for line in lines %}{{ line }}{% endfor %}", {"lines"}),
    (
        "loop over a sorted list",
        "{% for l in ls | sort(attribute='n') %}{{ l.n }}{% endfor %}",
        {"ls"},
    ),
    ("loop variable", "{% for l in ls %}{{ loop.index }}{% endfor %}", {"ls"}),
    ("tuple targets", "{% for k, v in prices.items() %}{{ k }}{{ v }}{% endfor %}", {"prices"}),
    ("set names are local", "{% set total = 3 %}{{ total }}", set()),
    ("set from a path aliases it", "{% set o = order %}{{ o.total }}", {"order.total"}),
    ("used before set", "{{ total }}{% set total = 3 %}", {"total"}),
    (
        "set inside a loop stays inside",
        "{% for l in ls %}{% set x = 1 %}{% endfor %}{{ x }}",
        {"ls", "x"},
    ),
    ("with", "{% with t = order.total %}{{ t }}{% endwith %}", {"order.total"}),
    ("macro arguments are local", "{% macro m(a) %}{{ a.b }}{% endmacro %}{{ m(item) }}", {"item"}),
    ("a method call needs its object", "{{ name.upper() }}", {"name"}),
    ("if x is not a guard", "{% if vip %}VIP{% endif %}", {"vip"}),
    ("is defined guards", "{% if note is defined %}{{ note }}{% endif %}", set()),
    (
        "is defined guards below",
        "{% if order.note is defined %}{{ order.note.text }}{% endif %}",
        set(),
    ),
    (
        "a guard covers every branch",
        "{% if n is not defined %}-{% else %}{{ n }}{% endif %}",
        set(),
    ),
    ("elif guards", "{% if a %}{% elif b is defined %}{{ b }}{% endif %}", {"a"}),
    (
        "a guard covers only its path",
        "{% if o.note is defined %}{{ o.total }}{% endif %}",
        {"o.total"},
    ),
    ("inline if guards", "{{ nick if nick is defined else name }}", {"name"}),
    ("default filter", "{{ contact.first_name | default('cliente') }}", set()),
    ("d is default", "{{ nick | d('x') }}", set()),
    ("default of a computation", "{{ (a ~ b) | default('x') }}", {"a", "b"}),
    ("globals are not model", "{% for i in range(3) %}{{ i }}{% endfor %}{{ dict(a=1) }}", set()),
    ("the locale is private", "{{ _locale }}", set()),
    (
        "a for-else reads outside the loop",
        "{% for l in ls %}{% else %}{{ empty }}{% endfor %}",
        {"ls", "empty"},
    ),
    (
        "a loop condition guards the body",
        "{% for l in ls if l.shown %}{{ l.name }}{% endfor %}",
        {"ls"},
    ),
]


@pytest.mark.parametrize(("case", "html", "expected"), REQUIRED)
def test_required_paths(case: str, html: str, expected: set[str]) -> None:
    assert _required(html) == expected, case


def test_every_part_counts_subject_and_text_too() -> None:
    compiled = compile_template(
        TemplateContent(subject="{{ a }}", html_body="{{ b }}", text_body="{{ c }}")
    )
    assert compiled.required == {"a", "b", "c"}


SUGGESTED = [
    ("scalars", "{{ name }}", {"name": "name_Value"}),
    (
        "an order",
        "{{ order.total }}{% for line in order.lines %}{{ line.name }}{% endfor %}",
        {"order": {"total": "total_Value", "lines": [{"name": "name_Value"}]}},
    ),
    ("a list of scalars", "{% for tag in tags %}{{ tag }}{% endfor %}", {"tags": ["tags_Value"]}),
    ("guarded ones too", "{{ nick | default('') }}", {"nick": "nick_Value"}),
    ("an object wins over a scalar", "{{ o }}{{ o.a }}", {"o": {"a": "a_Value"}}),
    (
        "nested loops",
        "{% for l in ls %}{% for o in l.opts %}{{ o.n }}{% endfor %}{% endfor %}",
        {"ls": [{"opts": [{"n": "n_Value"}]}]},
    ),
]


@pytest.mark.parametrize(("case", "html", "expected"), SUGGESTED)
def test_suggested_model(case: str, html: str, expected: dict[str, Any]) -> None:
    compiled = compile_template(TemplateContent(html_body=html), inline=False)
    assert compiled.suggested_model() == expected, case


def test_the_suggested_model_leaves_out_what_the_platform_fills() -> None:
    compiled = compile_template(TemplateContent(subject="{{ contact.first_name }} {{ code }}"))
    assert compiled.suggested_model() == {"code": "code_Value"}
    assert compiled.suggested_model(include_reserved=True) == {
        "code": "code_Value",
        "contact": {"first_name": "first_name_Value"},
    }


def test_the_suggested_model_renders() -> None:
    html = "{{ order.total }}{% for line in order.lines %}{{ line.name }}{% endfor %}"
    compiled = compile_template(TemplateContent(html_body=html), inline=False)
    rendered = render(compiled, compiled.suggested_model(), locale="es")
    assert rendered.html_body == "total_Valuename_Value"


ORDER = (
    "{{ person.name }} {{ order.total }}"
    "{% for line in order.lines %}{{ line.name }} {{ line.price }}{% endfor %}"
)


def test_missing_variables_names_every_one_sorted() -> None:
    compiled = compile_template(TemplateContent(subject="Hola", html_body=ORDER))
    with pytest.raises(MissingVariables) as raised:
        render(compiled, {"order": {"lines": []}}, locale="es")
    assert raised.value.missing == ["order.total", "person.name"]
    assert raised.value.message == (
        "The TemplateModel is missing required variables: order.total, person.name."
    )
    assert raised.value.error_code == 300


def test_loop_items_are_checked_by_index() -> None:
    compiled = compile_template(TemplateContent(html_body=ORDER))
    model = {
        "person": {"name": "Ana"},
        "order": {"total": 3, "lines": [{"name": "a", "price": 1}, {"name": "b"}]},
    }
    assert check_model(compiled, model) == ["order.lines[1].price"]


def test_a_missing_list_is_named_not_its_items() -> None:
    compiled = compile_template(TemplateContent(html_body=ORDER))
    assert check_model(compiled, {"person": {"name": "Ana"}, "order": {"total": 1}}) == [
        "order.lines"
    ]


def test_null_counts_as_present_and_renders_as_nothing() -> None:
    compiled = compile_template(TemplateContent(subject="[{{ order.note }}]"))
    assert render(compiled, {"order": {"note": None}}, locale="es").subject == "[]"
    assert check_model(compiled, {"order": None}) == ["order.note"]


def test_reserved_namespaces_are_never_missing_but_their_fields_are() -> None:
    compiled = compile_template(
        TemplateContent(subject="{{ contact }}{{ contact.first_name }}{{ server.name }}")
    )
    assert check_model(compiled, {}) == ["contact.first_name", "server.name"]
    assert check_model(compiled, {}, contact={"first_name": "Ana"}, server={"name": "T"}) == []


def test_the_platform_namespaces_win_over_the_model() -> None:
    compiled = compile_template(TemplateContent(subject="{{ contact.first_name }}"))
    model = {"contact": {"first_name": "from the model"}}
    assert render(compiled, model, locale="es").subject == "from the model"
    rendered = render(compiled, model, locale="es", contact={"first_name": "Ana"})
    assert rendered.subject == "Ana"


def test_a_key_named_like_a_dict_method_is_the_models() -> None:
    html = "{% for item in order.items %}{{ item.name }},{% endfor %}{{ order.values }}"
    compiled = compile_template(TemplateContent(html_body=html))
    model = {"order": {"items": [{"name": "a"}, {"name": "b"}], "values": 2}}
    assert render(compiled, model, locale="es").html_body == "a,b,2"


def test_what_the_tree_does_not_show_is_still_refused_at_render() -> None:
    # A dynamic key escapes the analysis; StrictUndefined still refuses the blank.
    compiled = compile_template(TemplateContent(subject="{{ order[key] }}"))
    with pytest.raises(MissingVariables) as raised:
        render(compiled, {"order": {}, "key": "total"}, locale="es")
    assert raised.value.missing == ["total"]
