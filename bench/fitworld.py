#!/usr/bin/python3
"""Disjoint union of simulated worlds, one event file and one truth file:
fitworld.py BIN N OUT VARIANT:SEED... Each world's accounts, devices and cards
get a tag of their own (worlds of one seed share raw ids), its IPv4 first
octet and IPv6 first group are rotated (a bijection that keeps /24 and /48
grouping), and ring names get the world's tag. Events are merged by time."""
import heapq, ipaddress, json, subprocess, sys, os
bin_, n, out = sys.argv[1], sys.argv[2], sys.argv[3]
worlds = sys.argv[4:]
def shift_ip(ip, k):
    if ':' in ip:
        a = ipaddress.IPv6Address(ip).packed
        h = (int.from_bytes(a[:2], 'big') + 0x101 * k) % 0x10000
        return str(ipaddress.IPv6Address(h.to_bytes(2, 'big') + a[2:]))
    p = ip.split('.')
    return '.'.join([str((int(p[0]) + 17 * k) % 256)] + p[1:])
streams = []
with open(out + '.truth.csv', 'w') as tf:
    tf.write('account,ring,tactic\n')
    for k, spec in enumerate(worlds):
        v, s = spec.split(':')
        ev, tr = f'{out}-{k}.jsonl', f'{out}-{k}.csv'
        subprocess.run([bin_, 'simulate', '--variant', v, '--accounts', n, '--seed', s, '--out', ev, '--truth', tr],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tag = f'w{k}'
        with open(tr) as f:
            next(f)
            for line in f:
                a, r, t = line.rstrip('\n').split(',')
                tf.write(f'u{tag}{a[1:]},{tag + r if r else ""},{t}\n')
        def gen(ev=ev, tag=tag, k=k):
            with open(ev) as f:
                for line in f:
                    e = json.loads(line)
                    e['account'] = 'u' + tag + e['account'][1:]
                    if 'device' in e: e['device'] = 'd' + tag + e['device'][1:]
                    if 'payment' in e: e['payment'] = 'tok' + tag + e['payment'][3:]
                    if 'ip' in e: e['ip'] = shift_ip(e['ip'], k + 1)
                    yield (e['ts'], k, json.dumps(e, separators=(',', ':')))
            os.remove(ev)
        streams.append(gen())
        os.remove(tr)
with open(out + '.jsonl', 'w') as f:
    for ts, k, line in heapq.merge(*streams):
        f.write(line + '\n')
