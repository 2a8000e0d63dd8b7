#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Writes an OVMF variable store for a Secure Boot test boot.

Usage: secureboot-vars.py SIGNED_VMLINUZ MOK_CERT.der EMPTY_VARS.fd OUT.fd

What a machine with Secure Boot and a DKMS key enrolled holds, without
shim: a generated PK and KEK (virt-fw-vars --enroll-generate), the
certificates that signed the kernel image in db (so the firmware verifies
the kernel itself), the DKMS certificate in MokList, and the MokListRT
copy that shim would make of it at boot -- the variable the kernel reads
into its platform keyring, which Debian's kernels consult for module
signatures.  Runs where python3-virt-firmware is installed (it brings
pefile and cryptography).
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import pefile
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

SHIM_LOCK_GUID = "605dab50-e046-4300-abb6-3dd810dd8b23"
# Runtime access as well (NV|BS|RT): the kernel reads it after boot.
MOKLISTRT_ATTRS = 0x7


def image_signers(path):
    """The certificates in a PE image's Authenticode signatures."""
    pe = pefile.PE(path, fast_load=True)
    sec = pe.OPTIONAL_HEADER.DATA_DIRECTORY[
        pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"]]
    with open(path, "rb") as f:
        f.seek(sec.VirtualAddress)
        table = f.read(sec.Size)
    certs, off = [], 0
    # WIN_CERTIFICATE entries, each 8-byte aligned.
    while off + 8 <= len(table):
        length, _, _ = struct.unpack_from("<IHH", table, off)
        if length < 8:
            break
        certs += pkcs7.load_der_pkcs7_certificates(table[off + 8:off + length])
        off += (length + 7) & ~7
    if not certs:
        sys.exit(f"{path}: no Authenticode signature (an unsigned image?)")
    return certs


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__.split("\n\n")[1])
    image, mok_der, empty, out = sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        args = ["virt-fw-vars", "-i", empty, "-o", out,
                "--enroll-generate", "bpfcmpdel test platform", "--no-microsoft",
                "--secure-boot"]
        for i, cert in enumerate(image_signers(image)):
            pem = os.path.join(tmp, f"db{i}.pem")
            with open(pem, "wb") as f:
                f.write(cert.public_bytes(Encoding.PEM))
            args += ["--add-db", SHIM_LOCK_GUID, pem]
        with open(mok_der, "rb") as f:
            mok = x509.load_der_x509_certificate(f.read())
        mok_pem = os.path.join(tmp, "mok.pem")
        with open(mok_pem, "wb") as f:
            f.write(mok.public_bytes(Encoding.PEM))
        dump = os.path.join(tmp, "vars.json")
        args += ["--add-mok", SHIM_LOCK_GUID, mok_pem, "--output-json", dump]
        subprocess.run(args, check=True)
        with open(dump) as f:
            store = json.load(f)
        moklist = next(v for v in store["variables"] if v["name"] == "MokList")
        rt = os.path.join(tmp, "mokrt.json")
        with open(rt, "w") as f:
            json.dump({"version": store.get("version", 2), "variables": [{
                "name": "MokListRT", "guid": moklist["guid"],
                "attr": MOKLISTRT_ATTRS, "data": moklist["data"]}]}, f)
        subprocess.run(["virt-fw-vars", "--inplace", out, "--set-json", rt, "--print"],
                       check=True)


if __name__ == "__main__":
    main()
