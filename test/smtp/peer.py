#!/usr/bin/env python3
# A scriptable SMTP/LMTP server for the smtp(8) client tests: records each
# transaction (as JSON lines) and misbehaves on request: 421/554 greetings,
# no EHLO, mixed per-recipient replies, dropping mid-DATA, slow greetings,
# STARTTLS with a test certificate, LMTP per-recipient replies, unix sockets.
# Usage: peer.py '<json options>'; prints "PORT <n>" (or "READY") when listening.
import json, os, socket, socketserver, ssl, sys, threading, time

O = json.loads(sys.argv[1])
LOG = O.get("log")
LOCK = threading.Lock()

def record(entry):
    if LOG:
        with LOCK, open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")

class Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def send(self, text):
        self.wfile.write(text.encode("latin1") + b"\r\n")
        self.wfile.flush()

    def handle(self):
        lmtp = O.get("lmtp", False)
        if O.get("slow_greeting"):
            time.sleep(O["slow_greeting"])
        self.send(O.get("greeting", "220 peer.test ESMTP"))
        if not O.get("greeting", "220").startswith("220"):
            self.rfile.readline()
            return
        feats = O.get("features", ["PIPELINING", "SIZE 10000000", "8BITMIME", "DSN", "ENHANCEDSTATUSCODES", "SMTPUTF8"])
        if O.get("cert") and not getattr(self, "tls", False):
            feats = feats + ["STARTTLS"]
        mail, rcpts, cmds = None, [], []
        while True:
            raw = self.rfile.readline(8192)
            if not raw:
                return
            line = raw.decode("latin1").rstrip("\r\n")
            cmds.append(line)
            verb = line.split(" ")[0].upper().split(":")[0]
            record({"cmd": line})
            if verb in ("EHLO", "LHLO"):
                if O.get("no_ehlo"):
                    self.send("502 5.5.2 Error: command not recognized")
                    continue
                lines = ["peer.test"] + feats
                for i, l in enumerate(lines):
                    self.send(("250 " if i == len(lines) - 1 else "250-") + l)
            elif verb == "HELO":
                self.send("250 peer.test")
            elif verb == "STARTTLS":
                self.send("220 2.0.0 Ready to start TLS")
                if O.get("bad_tls"):
                    # Agree, then hang up before any handshake: a broken TLS stack.
                    self.connection.close()
                    return
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(O["cert"], O["key"])
                conn = ctx.wrap_socket(self.connection, server_side=True)
                self.connection = conn
                self.rfile = conn.makefile("rb")
                self.wfile = conn.makefile("wb")
                self.tls = True
                feats = [f for f in feats if f != "STARTTLS"]
            elif verb == "MAIL":
                if O.get("mail_reply"):
                    self.send(O["mail_reply"])
                    continue
                mail, rcpts = line, []
                self.send("250 2.1.0 Ok")
            elif verb == "RCPT" and mail is None and not O.get("sloppy"):
                self.send("503 5.5.1 Error: need MAIL command")
            elif verb == "RCPT":
                addr = line[line.find("<") + 1:line.find(">")]
                if O.get("accept_all"):
                    rcpts.append(addr)
                    self.send("250 2.1.5 Ok")
                elif "bad" in addr:
                    self.send("550 5.1.1 <%s>: Recipient address rejected: User unknown" % addr)
                elif "later" in addr:
                    self.send("450 4.2.0 <%s>: Recipient address rejected: try again later" % addr)
                else:
                    rcpts.append(addr)
                    self.send("250 2.1.5 Ok")
            elif verb == "DATA":
                if not rcpts:
                    self.send("554 5.5.1 Error: no valid recipients")
                    continue
                self.send("354 End data with <CR><LF>.<CR><LF>")
                body = []
                while True:
                    raw = self.rfile.readline(100000)
                    if not raw:
                        return
                    if O.get("drop_in_data") and len(body) >= O["drop_in_data"]:
                        self.connection.close()
                        return
                    l = raw.decode("latin1")
                    if l == ".\r\n":
                        break
                    body.append(l[1:] if l.startswith(".") else l)
                record({"mail": mail, "rcpts": rcpts, "data": "".join(body), "tls": getattr(self, "tls", False),
                        "client": self.client_address[0] if isinstance(self.client_address, tuple) else ""})
                if lmtp:
                    for r in rcpts:
                        if "full" in r:
                            self.send("452 4.2.2 <%s> Mailbox full" % r)
                        else:
                            self.send("250 2.0.0 <%s> Ok: delivered" % r)
                else:
                    self.send(O.get("data_reply", "250 2.0.0 Ok: queued as PEER1"))
                mail, rcpts = None, []
            elif verb == "RSET":
                mail, rcpts = None, []
                self.send("250 2.0.0 Ok")
            elif verb == "AUTH":
                parts = line.split(" ")
                import base64
                if parts[1].upper().startswith("SCRAM-"):
                    ok, user = scram(self, parts[1].upper(), parts[2])
                    if ok:
                        record({"auth_user": user, "mech": parts[1].upper()})
                        self.send("235 2.7.0 Authentication successful")
                    else:
                        self.send("535 5.7.8 Error: authentication failed: authentication failure")
                    continue
                if parts[1].upper() == "PLAIN":
                    _, user, pw = base64.b64decode(parts[2]).decode().split("\0")
                else:
                    self.send("334 VXNlcm5hbWU6")
                    user = base64.b64decode(self.rfile.readline().strip()).decode()
                    self.send("334 UGFzc3dvcmQ6")
                    pw = base64.b64decode(self.rfile.readline().strip()).decode()
                allowed = O.get("auth")
                if "%s:%s" % (user, pw) in (allowed if isinstance(allowed, list) else [allowed]):
                    record({"auth_user": user, "mech": parts[1].upper()})
                    self.send("235 2.7.0 Authentication successful")
                else:
                    self.send("535 5.7.8 Error: authentication failed: authentication failure")
            elif verb == "XFORWARD":
                self.send("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.send("221 2.0.0 Bye")
                return
            else:
                self.send("502 5.5.2 Error: command not recognized")

def scram(h, mech, first_b64):
    """RFC 5802 server side; O["auth"] holds user:password; O["scram_lie"] sends a wrong server proof."""
    import base64, hashlib, hmac
    algo = "sha256" if mech == "SCRAM-SHA-256" else "sha1"
    b64d = lambda s: base64.b64decode(s).decode()
    first = b64d(first_b64)
    bare = first[3:]
    fields = dict(p.split("=", 1) for p in bare.split(","))
    user, cnonce = fields["n"], fields["r"]
    allowed = O.get("auth")
    pw = dict(a.split(":", 1) for a in (allowed if isinstance(allowed, list) else [allowed])).get(user)
    salt, iters, snonce = b"saltsalt", 4096, cnonce + "srv"
    server_first = "r=%s,s=%s,i=%d" % (snonce, base64.b64encode(salt).decode(), iters)
    h.send("334 " + base64.b64encode(server_first.encode()).decode())
    final = b64d(h.rfile.readline().strip())
    without_proof, proof = final.rsplit(",p=", 1)
    if pw is None:
        return False, user
    salted = hashlib.pbkdf2_hmac(algo, pw.encode(), salt, iters)
    mac = lambda k, m: hmac.new(k, m.encode(), algo).digest()
    client_key = mac(salted, "Client Key")
    auth_msg = "%s,%s,%s" % (bare, server_first, without_proof)
    sig = mac(hashlib.new(algo, client_key).digest(), auth_msg)
    if bytes(a ^ b for a, b in zip(base64.b64decode(proof), sig)) != client_key:
        return False, user
    server_sig = mac(mac(salted, "Server Key"), auth_msg)
    if O.get("scram_lie"):
        server_sig = bytes(len(server_sig))
    h.send("334 " + base64.b64encode(("v=" + base64.b64encode(server_sig).decode()).encode()).decode())
    answer = h.rfile.readline().strip()
    return answer == b"", user

class TCP(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

class UNIX(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

if O.get("unix"):
    srv = UNIX(O["unix"], Handler)
    print("READY", flush=True)
elif O.get("host") == "::1":
    class TCP6(TCP):
        address_family = socket.AF_INET6
    srv = TCP6(("::1", 0), Handler)
    print("PORT %d" % srv.server_address[1], flush=True)
else:
    srv = TCP((O.get("host", "127.0.0.1"), O.get("port", 0)), Handler)
    print("PORT %d" % srv.server_address[1], flush=True)
# Never outlive the test that started us.
threading.Timer(O.get("lifetime", 60), lambda: os._exit(0)).start()
srv.serve_forever()
