"""Give bibliography entries a role that screen readers know.

docutils writes the bibliography as `<div role="list">` holding `<div role="doc-biblioentry">`
entries. DPUB-ARIA 1.1 deprecated `doc-biblioentry`, so assistive technology (and axe-core's
rule aria-required-children, critical) finds a list without items. Each entry becomes a plain
`listitem`, which is what the deprecation note recommends.
"""


def entries_as_list_items(app, pagename, templatename, context, doctree):
    if "body" in context:
        context["body"] = context["body"].replace('role="doc-biblioentry"', 'role="listitem"')


def setup(app):
    app.connect("html-page-context", entries_as_list_items)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
