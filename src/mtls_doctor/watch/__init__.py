"""``watch`` and ``exporter``: client-certificate expiry and issuing-CA drift.

- :mod:`.facts`: the frozen nouns (issuing CAs, servers as seen, the report);
- :mod:`.drift`: the pure rules (usage, expiry, does a server trust a CA by
  name and key id, drift findings);
- :mod:`.sources`: what to watch, from a TOML file and/or flags;
- :mod:`.gather`: the adapters' orchestration (files, server configurations,
  concurrent probes, one settling handshake per CA x server when needed);
- :mod:`.exporter`: the Prometheus exporter (a cache refreshed on an interval).
"""
