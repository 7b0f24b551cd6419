#!/usr/bin/env bash
# Usage: make_test_pki.sh OUT_DIR -- writes a test CA, a server and a client certificate, and a
# rogue CA with its own client certificate. EC P-256 keys, valid for 10 years. Test use only.
set -euo pipefail
out=$1
mkdir -p "$out"
cd "$out"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {  # name subject
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -days 3650 -subj "/CN=$2" -out "$1.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign"
}
leaf() {  # name ca subject extensions
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$3" -out "$1.csr"
  printf '%s\n' "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 3650 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
ca ca gemma-test-ca
ca rogue_ca gemma-rogue-ca
leaf server ca localhost "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
leaf client ca gemma-test-client "extendedKeyUsage=clientAuth"
leaf rogue_client rogue_ca gemma-rogue-client "extendedKeyUsage=clientAuth"
rm -f ./*.srl ca.key rogue_ca.key
