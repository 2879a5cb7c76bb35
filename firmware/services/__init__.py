"""Writes of the firmware app, one module per sub-domain (docs/adr/0050-firmware-updates.md to
docs/adr/0054-watching-transfers.md):

- `files`: stored files, firmware files and diagnostics/log uploads;
- `locations`: the URLs stations download from and upload to;
- `updates`: firmware updates, from the request to what stations report;
- `diagnostics`: diagnostics and log requests, from the request to what stations report;
- `jobs`: the periodic jobs that send, watch, expire and prune;
- `wire`: what updates and diagnostics share about OCPP payloads.

Import the function from the module that owns it.
"""
