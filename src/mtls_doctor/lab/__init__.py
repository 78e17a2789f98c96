"""The built-in mTLS lab: a PKI with every failure mode, and local servers.

``build_lab_pki`` writes the PKI; the servers (``mtls_doctor.lab.server``)
serve it on 127.0.0.1. Tests, ``demo`` and ``lab up`` all use this code.
"""
