#!/usr/bin/env python3
"""A raw TLS 1.2 client on the system's OpenSSL (libssl.so.3 through ctypes) that renegotiates after
the handshake, optionally presenting another certificate: the attack of issue 12 section 1.

node's TLSSocket cannot do this (setKeyCert is ignored on a client socket) and `openssl s_client`'s
`R` command presents the same certificate again, so the test drives OpenSSL itself.

Usage: renegotiate-client.py PORT CERT KEY [--swap CERT KEY] [--times N] [--send HEX]

Prints one JSON object: renegotiations completed, the error that stopped the next one, the first
bytes the server answered to --send (hex), and whether the server closed the connection.
"""

import ctypes
import json
import socket
import struct
import sys

ssl = ctypes.CDLL('libssl.so.3')
crypto = ctypes.CDLL('libcrypto.so.3')
P = ctypes.c_void_p
for name, res, args in [
    ('TLS_client_method', P, []), ('SSL_CTX_new', P, [P]), ('SSL_CTX_ctrl', ctypes.c_long, [P, ctypes.c_int, ctypes.c_long, P]),
    ('SSL_CTX_set_verify', None, [P, ctypes.c_int, P]), ('SSL_new', P, [P]), ('SSL_set_fd', ctypes.c_int, [P, ctypes.c_int]),
    ('SSL_ctrl', ctypes.c_long, [P, ctypes.c_int, ctypes.c_long, P]), ('SSL_connect', ctypes.c_int, [P]),
    ('SSL_use_certificate_file', ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int]),
    ('SSL_use_PrivateKey_file', ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int]),
    ('SSL_renegotiate', ctypes.c_int, [P]), ('SSL_do_handshake', ctypes.c_int, [P]), ('SSL_get_error', ctypes.c_int, [P, ctypes.c_int]),
    ('SSL_write', ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int]), ('SSL_read', ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int]),
]:
    f = getattr(ssl, name)
    f.restype = res
    f.argtypes = args
crypto.ERR_get_error.restype = ctypes.c_ulong
crypto.ERR_error_string_n.argtypes = [ctypes.c_ulong, ctypes.c_char_p, ctypes.c_size_t]

SSL_CTRL_SET_MIN_PROTO_VERSION, SSL_CTRL_SET_MAX_PROTO_VERSION, SSL_CTRL_SET_TLSEXT_HOSTNAME = 123, 124, 55
TLS1_2_VERSION, SSL_FILETYPE_PEM, SSL_VERIFY_NONE = 0x0303, 1, 0


def openssl_error(what, ret=None, s=None):
    codes = []
    while True:
        e = crypto.ERR_get_error()
        if e == 0:
            break
        buf = ctypes.create_string_buffer(256)
        crypto.ERR_error_string_n(e, buf, 256)
        codes.append(buf.value.decode())
    detail = f' (SSL_get_error {ssl.SSL_get_error(s, ret)})' if s is not None and ret is not None else ''
    return f'{what}{detail}: {"; ".join(codes) or "no OpenSSL error queued"}'


def main(argv):
    port, cert, key = int(argv[0]), argv[1].encode(), argv[2].encode()
    rest = argv[3:]
    swap, times, send = None, 1, None
    while rest:
        if rest[0] == '--swap':
            swap, rest = (rest[1].encode(), rest[2].encode()), rest[3:]
        elif rest[0] == '--times':
            times, rest = int(rest[1]), rest[2:]
        elif rest[0] == '--send':
            send, rest = bytes.fromhex(rest[1]), rest[2:]
        else:
            raise SystemExit(f'unknown option {rest[0]}')

    sock = socket.create_connection(('127.0.0.1', port))
    # Blocking socket with a receive bound, so that a server that never answers cannot hang the test.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack('ll', 10, 0))
    ctx = ssl.SSL_CTX_new(ssl.TLS_client_method())
    ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, None)
    ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, TLS1_2_VERSION, None)
    ssl.SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, None)  # the attacker does not care who the server is
    s = ssl.SSL_new(ctx)
    ssl.SSL_set_fd(s, sock.fileno())
    ssl.SSL_ctrl(s, SSL_CTRL_SET_TLSEXT_HOSTNAME, 0, ctypes.c_char_p(b'localhost'))
    if ssl.SSL_use_certificate_file(s, cert, SSL_FILETYPE_PEM) != 1 or ssl.SSL_use_PrivateKey_file(s, key, SSL_FILETYPE_PEM) != 1:
        raise SystemExit(openssl_error('loading the first certificate'))
    ret = ssl.SSL_connect(s)
    if ret != 1:
        raise SystemExit(openssl_error('first handshake', ret, s))

    out = {'renegotiations': 0, 'error': None, 'response': None, 'peerClosed': False}
    if swap is not None:
        # The certificate the server gets when it asks again (CertificateRequest in the new handshake).
        if ssl.SSL_use_certificate_file(s, swap[0], SSL_FILETYPE_PEM) != 1 or ssl.SSL_use_PrivateKey_file(s, swap[1], SSL_FILETYPE_PEM) != 1:
            raise SystemExit(openssl_error('loading the swapped certificate'))
    alive = True
    for _ in range(times):
        if ssl.SSL_renegotiate(s) != 1:
            out['error'] = openssl_error('SSL_renegotiate')
            alive = False
            break
        ret = ssl.SSL_do_handshake(s)
        if ret != 1:
            out['error'] = openssl_error('renegotiation', ret, s)
            alive = False
            break
        out['renegotiations'] += 1
    if alive and send is not None:
        if ssl.SSL_write(s, send, len(send)) != len(send):
            out['error'] = openssl_error('write')
        else:
            buf = ctypes.create_string_buffer(4096)
            n = ssl.SSL_read(s, buf, 4096)
            if n > 0:
                out['response'] = buf.raw[:n].hex()
            else:
                out['error'] = openssl_error('read', n, s)
    if out['error'] is not None:
        # Did the server end the connection? Read the raw socket to its end (or the receive bound).
        try:
            while True:
                if sock.recv(4096) == b'':
                    out['peerClosed'] = True
                    break
        except OSError:
            pass
    print(json.dumps(out))


main(sys.argv[1:])
