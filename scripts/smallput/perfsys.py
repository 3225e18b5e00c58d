"""perf record -g samples of a server: user time by library, kernel time by the system call it
ran in (irq/softirq and other kernel work apart). Usage: python3 perfsys.py FILE.perf"""
import sys, subprocess, collections, re
out = subprocess.run(["perf","script","-i",sys.argv[1],"-F","tid,ip,sym,dso"],capture_output=True,text=True).stdout
samples = out.split("\n\n")
cls = collections.Counter(); n=0
for s in samples:
    lines=[l.strip() for l in s.strip().split("\n") if l.strip()]
    if not lines: continue
    n+=1
    frames=lines[1:]
    kernel = frames and 'kernel' in frames[0]
    if not kernel:
        d = frames[0].split('(')[-1].rstrip(')') if frames else '?'
        d = d.split('/')[-1]
        cls['user '+('python' if 'libpython' in d else 'sqlite' if 'sqlite' in d else 'libc' if 'libc' in d else 'crypto/hash' if ('crypto' in d or 'hashlib' in d or 'libz' in d) else 'aiohttp/uvloop/other C')]+=1
        continue
    sysc=None
    for f in frames:
        m=re.search(r'__x64_sys_(\w+)|__do_sys_(\w+)', f)
        if m: sysc=m.group(1) or m.group(2); break
    if sysc is None:
        joined=' '.join(frames)
        sysc = 'irq/softirq' if ('irq' in joined or 'softirq' in joined) else 'kernel other'
    cls['kernel '+sysc]+=1
for k,v in cls.most_common(): print(f"{v:5d} {100*v/n:5.1f}% {k}")
print(n)
