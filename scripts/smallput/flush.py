"""The flushes of a small PUT alone, without the server: N x (create a 4 KiB temp file in one of
256 folders, rename it, fsync it, fsync its folder), user and kernel CPU per file; sync=0 skips
the two fsyncs. Usage: python3 flush.py DIR N 1|0"""
import os, sys, time, resource
root=sys.argv[1]; n=int(sys.argv[2]); sync=sys.argv[3]=="1"
os.makedirs(root, exist_ok=True)
folders=[f"{root}/{i:02x}" for i in range(256)]
for f in folders: os.makedirs(f, exist_ok=True)
dfd={f: os.open(f, os.O_RDONLY|os.O_DIRECTORY) for f in folders}
data=os.urandom(4096)
r0=resource.getrusage(resource.RUSAGE_SELF); t0=time.time()
for i in range(n):
    f=folders[i%256]; tmp=f"{f}/put-{i}"; dst=f"{f}/b{i}"
    fd=os.open(tmp, os.O_WRONLY|os.O_CREAT|os.O_EXCL, 0o644); os.write(fd,data)
    os.rename(tmp,dst)
    if sync: os.fsync(fd)
    os.close(fd)
    if sync: os.fsync(dfd[f])
r1=resource.getrusage(resource.RUSAGE_SELF)
print(f"{root} sync={sync}: user {1000*(r1.ru_utime-r0.ru_utime)/n:.3f} ms/file, kernel {1000*(r1.ru_stime-r0.ru_stime)/n:.3f} ms/file, wall {1000*(time.time()-t0)/n:.3f} ms/file")
