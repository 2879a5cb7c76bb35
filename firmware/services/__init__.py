"""Writes of the firmware app, one module per sub-domain (docs/adr/0050-firmware-updates.md to
docs/adr/0059-work-noted-for-the-node.md):

- `files`: stored files, firmware files and diagnostics/log uploads;
- `locations`: the URLs stations download from and upload to (HTTP and FTP);
- `ftp_accounts`: the one-time FTP accounts those locations carry, and what a session may do;
- `updates`: firmware updates, from the request to what stations report;
- `rollouts`: firmware rollouts in waves, and the engine that decides them;
- `diagnostics`: diagnostics and log requests, from the request to what stations report;
- `versions`: the firmware versions each station booted with;
- `wakeups`: work noted after a commit for the node to do off the station path;
- `jobs`: the periodic jobs that send, watch, expire and prune;
- `wire`: what updates and diagnostics share about OCPP payloads.

Import the function from the module that owns it.
"""
