"""Write each <script> once per page.

Sphinx 7.4 registers a script that an extension adds after the builder started (sphinx-thebe's
and sphinx-togglebutton's inline configuration) twice: once as ``_JavaScript(None, body=...)``
by ``Sphinx.add_js_file``, and again as ``_JavaScript('', body=...)`` when the HTML builder
copies the registry before writing. The two differ only in ``None`` against ``''``, so the
builder's own duplicate check misses them, and the second copy of sphinx-thebe's
``const THEBE_JS_URL`` raises "Identifier 'THEBE_JS_URL' has already been declared" on every
page. This hook drops the second copy, keeping the order of the rest.
"""


def _key(script):
    filename = getattr(script, "filename", script)
    attributes = getattr(script, "attributes", {})
    return (filename or "", getattr(script, "priority", 500), tuple(sorted(attributes.items())))


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        if (key := _key(script)) not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
