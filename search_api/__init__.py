"""HTTP search API (aiohttp): arrives with the search API issue."""
