#!/usr/bin/env bash
# OpenLDAP (slapd) on 127.0.0.1:389 for the ldap table tests: suffix
# dc=example,dc=com, admin cn=admin,dc=example,dc=com / postern_dict, and a
# few mail entries and nested groups (member DNs, a member loop) under ou=aliases;
# StartTLS with a self-signed certificate and SASL PLAIN for cn=info. Idempotent; tests skip when it is absent.
set -uo pipefail
export DEBIAN_FRONTEND=noninteractive
[ "$(id -u)" = 0 ] || { echo "dict-ldap: not root, skipping" >&2; exit 0; }

if ! dpkg -s slapd >/dev/null 2>&1; then
  debconf-set-selections <<'DEB'
slapd slapd/no_configuration boolean false
slapd slapd/domain string example.com
slapd shared/organization string Postern Test
slapd slapd/password1 password postern_dict
slapd slapd/password2 password postern_dict
slapd slapd/purge_database boolean true
slapd slapd/move_old_database boolean true
DEB
  apt-get install -y -qq --no-install-recommends slapd ldap-utils >/dev/null || { echo "dict-ldap: apt-get failed" >&2; exit 0; }
fi

# Debian's postfix-ldap: the ldap tests compare answers with the real postmap.
dpkg -s postfix-ldap >/dev/null 2>&1 || apt-get install -y -qq --no-install-recommends postfix-ldap >/dev/null || true

if ! ldapsearch -x -H ldap://127.0.0.1:389 -b '' -s base >/dev/null 2>&1; then
  mkdir -p /run/slapd && chown openldap:openldap /run/slapd 2>/dev/null
  slapd -h 'ldap://127.0.0.1:389/ ldapi:///' -u openldap -g openldap -F /etc/ldap/slapd.d
  for _ in $(seq 1 40); do ldapsearch -x -H ldap://127.0.0.1:389 -b '' -s base >/dev/null 2>&1 && break; sleep 0.25; done
fi

# StartTLS: a self-signed certificate for 127.0.0.1 (the tests trust
# /etc/ldap/postern-tls/cert.pem as their CA), set through cn=config.
tlsdir=/etc/ldap/postern-tls
if [ ! -s "$tlsdir/cert.pem" ]; then
  mkdir -p "$tlsdir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$tlsdir/key.pem" -out "$tlsdir/cert.pem" >/dev/null 2>&1
  chown -R openldap:openldap "$tlsdir" 2>/dev/null
  chmod 644 "$tlsdir/cert.pem"
  chmod 600 "$tlsdir/key.pem"
fi
ldapmodify -Y EXTERNAL -H ldapi:/// >/dev/null 2>&1 <<LDIF
dn: cn=config
changetype: modify
replace: olcTLSCertificateFile
olcTLSCertificateFile: $tlsdir/cert.pem
-
replace: olcTLSCertificateKeyFile
olcTLSCertificateKeyFile: $tlsdir/key.pem
LDIF

ldapadd -c -x -H ldap://127.0.0.1:389 -D cn=admin,dc=example,dc=com -w postern_dict >/dev/null 2>&1 <<'LDIF'
dn: ou=aliases,dc=example,dc=com
objectClass: organizationalUnit
ou: aliases

dn: cn=info,ou=aliases,dc=example,dc=com
objectClass: inetOrgPerson
cn: info
sn: info
mail: info@example.com
description: joe@example.net

dn: cn=list,ou=aliases,dc=example,dc=com
objectClass: inetOrgPerson
cn: list
sn: list
mail: list@example.com
description: one@example.net
description: two@example.net

dn: cn=star,ou=aliases,dc=example,dc=com
objectClass: inetOrgPerson
cn: star
sn: star
mail: st*r@example.com
description: literal-star@example.net

dn: cn=term,ou=aliases,dc=example,dc=com
objectClass: inetOrgPerson
cn: term
sn: term
mail: term@example.com
description: not-returned@example.net
title: terminal-only@example.net

dn: cn=sub,ou=aliases,dc=example,dc=com
objectClass: groupOfNames
objectClass: extensibleObject
cn: sub
mail: sub@example.com
member: cn=star,ou=aliases,dc=example,dc=com
member: cn=term,ou=aliases,dc=example,dc=com
member: cn=gone,ou=aliases,dc=example,dc=com

dn: cn=group,ou=aliases,dc=example,dc=com
objectClass: groupOfNames
objectClass: extensibleObject
cn: group
mail: group@example.com
description: group-owner@example.net
member: cn=info,ou=aliases,dc=example,dc=com
member: cn=list,ou=aliases,dc=example,dc=com
member: cn=sub,ou=aliases,dc=example,dc=com

dn: cn=loop1,ou=aliases,dc=example,dc=com
objectClass: groupOfNames
objectClass: extensibleObject
cn: loop1
mail: loop@example.com
member: cn=loop2,ou=aliases,dc=example,dc=com

dn: cn=loop2,ou=aliases,dc=example,dc=com
objectClass: groupOfNames
cn: loop2
member: cn=loop1,ou=aliases,dc=example,dc=com
LDIF

# SASL PLAIN (over StartTLS) for the `bind = sasl` test: authcid "info" maps
# to cn=info,ou=aliases, whose cleartext userPassword slapd's auxprop checks.
ldapmodify -x -H ldap://127.0.0.1:389 -D cn=admin,dc=example,dc=com -w postern_dict >/dev/null 2>&1 <<'LDIF'
dn: cn=info,ou=aliases,dc=example,dc=com
changetype: modify
replace: userPassword
userPassword: info-secret
LDIF
ldapmodify -Y EXTERNAL -H ldapi:/// >/dev/null 2>&1 <<'LDIF'
dn: cn=config
changetype: modify
replace: olcAuthzRegexp
olcAuthzRegexp: {0}uid=([^,]+),cn=[^,]+,cn=auth cn=$1,ou=aliases,dc=example,dc=com
-
replace: olcSaslAuxprops
olcSaslAuxprops: slapd
LDIF
exit 0
