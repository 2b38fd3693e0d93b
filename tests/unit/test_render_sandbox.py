"""Templates are written by people who must never reach Python internals: the classic escapes
are refused when the template is saved, and the sandbox refuses them again at render."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError

from misiva.domain.templates import TemplateContent
from misiva.render import (
    MissingVariables,
    TemplateError,
    UnsafeTemplate,
    compile_template,
    make_environment,
    render,
)

# Each reaches for an attribute beginning with "_": refused at compile, with its line.
REFUSED_AT_SAVE = [
    ("class of a string", "{{ ''.__class__.__mro__ }}"),
    ("subclasses", "{{ ''.__class__.__mro__[1].__subclasses__() }}"),
    ("globals of a global", "{{ cycler.__init__.__globals__.os }}"),
    ("globals of lipsum", "{{ lipsum.__globals__['os'].popen('id').read() }}"),
    ("template reference context", "{{ self._TemplateReference__context }}"),
    ("subscript instead of a dot", "{{ ''['__class__'] }}"),
    ("the attr filter", "{{ ''|attr('__class__') }}"),
    ("inside a set", "{% set c = ''.__class__ %}{{ c }}"),
]


@pytest.mark.parametrize(("case", "source"), REFUSED_AT_SAVE)
def test_classic_escapes_are_refused_at_save(case: str, source: str) -> None:
    with pytest.raises(UnsafeTemplate) as raised:
        compile_template(TemplateContent(subject="Hi", html_body=f"<p>\n{source}</p>"))
    problem = raised.value.errors[0]
    assert (problem.part, problem.line) == ("HtmlBody", 2), case
    assert "is not allowed" in problem.message


# The same escapes, straight into the sandbox (as if the save-time check were bypassed):
# the immutable sandbox still refuses them when rendering.
REFUSED_AT_RENDER = [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ ''|attr('__class__') }}",
    "{{ name|attr(attribute) }}",
    "{{ '{0.__class__}'.format(name) }}",
    "{% set x = [] %}{% set y = x.append(1) %}{{ x }}",
    "{% set d = {} %}{{ d.update(a=1) }}",
    "{{ 'x' * 10**9 }}",
    "{{ 2 ** 100000000 }}",
]


@pytest.mark.parametrize("source", REFUSED_AT_RENDER)
def test_the_sandbox_refuses_at_render(source: str) -> None:
    template = make_environment(html=False).from_string(source)
    with pytest.raises(SecurityError):
        template.render(name="x", attribute="__class__")


def test_huge_ranges_are_refused() -> None:
    template = make_environment(html=False).from_string("{{ range(10**9) | list }}")
    with pytest.raises(OverflowError, match="MAX_RANGE"):
        template.render()


def test_a_mutation_at_render_is_an_unsafe_template() -> None:
    compiled = compile_template(TemplateContent(subject="{% set x = [].append(1) %}Hi"))
    with pytest.raises(UnsafeTemplate) as raised:
        render(compiled, {}, locale="es")
    assert "append" in raised.value.message
    assert raised.value.error_code == 1122


def test_a_dynamic_attribute_name_is_refused_at_render() -> None:
    compiled = compile_template(TemplateContent(subject="{{ order | attr(key) }}"))
    with pytest.raises(UnsafeTemplate):
        render(compiled, {"order": {}, "key": "__class__"}, locale="es")


def test_a_json_key_starting_with_an_underscore_is_data() -> None:
    compiled = compile_template(TemplateContent(subject="{{ order._id }} {{ order['_rev'] }}"))
    assert render(compiled, {"order": {"_id": "a1", "_rev": 2}}, locale="es").subject == "a1 2"


def test_a_private_attribute_of_an_object_is_refused_at_render() -> None:
    source = "{% for x in xs %}{{ loop._length }}{% endfor %}"
    compiled = compile_template(TemplateContent(subject=source))
    with pytest.raises(UnsafeTemplate, match="_length"):
        render(compiled, {"xs": [1]}, locale="es")


@pytest.mark.parametrize("name", ["request", "config", "settings", "os", "environ"])
def test_platform_objects_do_not_exist_in_templates(name: str) -> None:
    # Nothing of the application is in a template's context: such names are plain model
    # variables, and missing ones are refused, not rendered as a blank.
    compiled = compile_template(TemplateContent(subject="{{ " + name + " }}"))
    assert compiled.required == {name}
    with pytest.raises(MissingVariables, match=name):
        render(compiled, {}, locale="es")
    assert render(compiled, {name: "x"}, locale="es").subject == "x"


def test_including_other_templates_is_refused() -> None:
    with pytest.raises(TemplateError, match="'include' is not supported"):
        compile_template(TemplateContent(subject="{% include '/etc/passwd' %}"))


def test_html_output_is_escaped_and_text_output_is_not() -> None:
    compiled = compile_template(
        TemplateContent(subject="{{ name }}", html_body="<p>{{ name }}</p>", text_body="{{ name }}")
    )
    rendered = render(compiled, {"name": "<script>alert(1)</script> & co"}, locale="es")
    assert rendered.html_body == "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</p>"
    assert rendered.text_body == rendered.subject == "<script>alert(1)</script> & co"
