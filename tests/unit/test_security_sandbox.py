"""Template sandbox escapes beyond tests/unit/test_render_sandbox.py: string formatting
reaching attributes, the globals of every built-in helper, and model data that looks like
template code. Each either fails at save, fails at render, or renders as inert text; none
ever shows Python internals."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError

from misiva.domain.errors import MisivaError
from misiva.domain.templates import TemplateContent
from misiva.render import compile_template, make_environment, render

ESCAPES = [
    "{{ '{0.__class__}'.format(name) }}",
    "{{ '{0.__init__.__globals__}'.format(cycler) }}",
    "{{ '{x.__class__.__mro__}'.format_map({'x': name}) }}",
    "{{ '%s'|format(cycler.__init__) }}",
    "{{ '%(a)s'|format(a=joiner.__init__.__globals__) }}",
    "{{ ''.format.__self__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__['os'] }}",
    "{{ range.__self__ }}",
    "{{ lipsum.__globals__.__builtins__ }}",
    "{{ dict.__base__.__subclasses__() }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{{ name.__len__() }}",
    "{{ (name|list).pop() }}",
    "{{ name|map(attribute='__class__')|list }}",
    "{{ [name]|map(attribute='__class__')|list }}",
    "{{ [name]|selectattr('__class__')|list }}",
    "{{ [name]|sort(attribute='__class__') }}",
    "{{ name.__class__ is defined }}",
    "{% for k in name.__class__.__dict__ %}{{ k }}{% endfor %}",
    "{% macro m() %}{{ caller.__globals__ }}{% endmacro %}{% call m() %}{% endcall %}",
    "{{ self.__init__.__globals__ }}",
]
# What leaks when an escape works: class reprs, module dicts, functions.
LEAKS = ("<class", "<function", "<module", "__builtins__", "<built-in", "<bound method")


@pytest.mark.parametrize("source", ESCAPES)
def test_no_escape_reaches_python_internals(source: str) -> None:
    try:
        compiled = compile_template(TemplateContent(subject="Hi", html_body=source))
        output = render(compiled, {"name": "ana"}, locale="en").html_body or ""
    except MisivaError:
        return  # refused at save or at render, with a message for the author
    assert not any(leak in output for leak in LEAKS), output


@pytest.mark.parametrize("source", ESCAPES)
def test_the_bare_sandbox_refuses_or_neuters_them_too(source: str) -> None:
    """As if the save-time check were bypassed: the sandbox alone still holds."""
    try:
        output = make_environment(html=True).from_string(source).render(name="ana")
    except (SecurityError, TypeError, AttributeError):
        return
    except Exception as error:
        assert not any(leak in str(error) for leak in LEAKS), error
        return
    assert not any(leak in output for leak in LEAKS), output


def test_model_data_that_looks_like_template_code_is_text() -> None:
    compiled = compile_template(
        TemplateContent(subject="Hi {{ name }}", html_body="<p>{{ name }}</p>")
    )
    evil = "{{ cycler.__init__.__globals__ }}{% for x in range(9) %}x{% endfor %}"
    rendered = render(compiled, {"name": evil}, locale="en")
    assert rendered.subject == f"Hi {evil}"
    assert "<class" not in (rendered.html_body or "") and "{{" in (rendered.html_body or "")
