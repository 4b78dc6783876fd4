"""What a regulator checks, from what seals and headers commit to: verify (headers, roots, seals, membership, public
files, member copies, pins), the audit (re-execution on stock py-evm), node views and anchors on the regulatory chain."""
