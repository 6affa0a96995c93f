"""`memvault mcp`: the memory store served to AI assistants over the Model Context Protocol.

The tools keep the TypeScript service's names and argument shapes (src/desktop-mcp-server.ts
at v1.7.5) and add tags, entity links, interactions and a real hybrid `composite` recall.
The MCP SDK (`mcp`, major 2) is imported only here, so other commands start without it.
See docs/mcp.md.
"""
