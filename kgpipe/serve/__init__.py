"""Serving the graph: an HTTP API and web page (``kgpipe serve``), an MCP server (``kgpipe mcp``), an HTML export.

Modules: ``views`` (what an entity, a fact's provenance and a neighbourhood look like, over any store),
``search`` (fuzzy name and alias search), ``jobs`` (uploads built in the background), ``app`` (the ASGI
app), ``limits`` (request size and concurrency), ``mcp`` (the MCP tools), ``html`` (the page and the export).
The web server's packages are the optional extra ``serve``: ``pip install 'kgpipe[serve]'``.
"""
