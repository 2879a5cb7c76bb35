"""Writes of the certificates app, one module per sub-domain (docs/adr/0060 to 0066):

- `signing`: a station's certificate, from the trigger (A02) or its CSR (A03) to installation;
- `installed`: the mirror of the CA certificates each station holds (M03-M05).

Import the function from the module that owns it.
"""
