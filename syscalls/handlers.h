/* Declarations of every syscall handler, for table.c. Handlers are thin:
 * decode the arguments, call the subsystem, release. */
#pragma once

#include "../sentry/kernel/kernel.h"
#include "table.h"

#define SYSCALL(name) long sys_##name(struct task *t, const struct syscall_args *a)

/* sys_mm.c */
SYSCALL(brk); SYSCALL(mmap); SYSCALL(munmap); SYSCALL(mprotect);
SYSCALL(mremap); SYSCALL(madvise); SYSCALL(msync); SYSCALL(mincore);
/* sys_creds.c */
SYSCALL(getuid); SYSCALL(geteuid); SYSCALL(getgid); SYSCALL(getegid);
SYSCALL(getgroups); SYSCALL(setgroups); SYSCALL(getresuid);
SYSCALL(getresgid); SYSCALL(setuid); SYSCALL(setgid); SYSCALL(setreuid);
SYSCALL(setregid); SYSCALL(setresuid); SYSCALL(setresgid);
SYSCALL(setfsuid); SYSCALL(setfsgid); SYSCALL(capget); SYSCALL(capset);
/* sys_read_write.c */
SYSCALL(read); SYSCALL(write); SYSCALL(readv); SYSCALL(writev);
SYSCALL(pread64); SYSCALL(pwrite64); SYSCALL(preadv); SYSCALL(pwritev);
SYSCALL(preadv2); SYSCALL(pwritev2); SYSCALL(lseek);
/* sys_file.c */
SYSCALL(open); SYSCALL(openat); SYSCALL(openat2); SYSCALL(creat);
SYSCALL(close); SYSCALL(close_range); SYSCALL(mknod); SYSCALL(mknodat);
SYSCALL(mkdir); SYSCALL(mkdirat); SYSCALL(rmdir); SYSCALL(unlink);
SYSCALL(unlinkat); SYSCALL(rename); SYSCALL(renameat); SYSCALL(renameat2);
SYSCALL(link); SYSCALL(linkat); SYSCALL(symlink); SYSCALL(symlinkat);
SYSCALL(readlink); SYSCALL(readlinkat); SYSCALL(chmod); SYSCALL(fchmod);
SYSCALL(fchmodat); SYSCALL(fchmodat2); SYSCALL(chown); SYSCALL(fchown);
SYSCALL(lchown); SYSCALL(fchownat); SYSCALL(utime); SYSCALL(utimes);
SYSCALL(futimesat); SYSCALL(utimensat); SYSCALL(truncate); SYSCALL(ftruncate);
SYSCALL(fallocate); SYSCALL(access); SYSCALL(faccessat); SYSCALL(faccessat2);
SYSCALL(chdir); SYSCALL(fchdir); SYSCALL(getcwd); SYSCALL(chroot);
SYSCALL(umask); SYSCALL(memfd_create);
/* sys_stat.c */
SYSCALL(stat); SYSCALL(fstat); SYSCALL(lstat); SYSCALL(newfstatat);
SYSCALL(statx); SYSCALL(statfs); SYSCALL(fstatfs);
/* sys_getdents.c */
SYSCALL(getdents); SYSCALL(getdents64);
/* sys_sync.c */
SYSCALL(fsync); SYSCALL(fdatasync); SYSCALL(sync); SYSCALL(syncfs);
/* sys_xattr.c */
SYSCALL(setxattr); SYSCALL(lsetxattr); SYSCALL(fsetxattr);
SYSCALL(getxattr); SYSCALL(lgetxattr); SYSCALL(fgetxattr);
SYSCALL(listxattr); SYSCALL(llistxattr); SYSCALL(flistxattr);
SYSCALL(removexattr); SYSCALL(lremovexattr); SYSCALL(fremovexattr);
/* sys_splice.c */
SYSCALL(sendfile); SYSCALL(copy_file_range);
/* sys_time.c */
SYSCALL(clock_gettime); SYSCALL(clock_getres); SYSCALL(gettimeofday);
SYSCALL(time); SYSCALL(nanosleep); SYSCALL(clock_nanosleep);
SYSCALL(getitimer); SYSCALL(setitimer); SYSCALL(alarm);
SYSCALL(timer_create); SYSCALL(timer_settime); SYSCALL(timer_gettime);
SYSCALL(timer_getoverrun); SYSCALL(timer_delete); SYSCALL(times);
SYSCALL(getrusage);
/* sys_signal.c */
SYSCALL(rt_sigaction); SYSCALL(rt_sigprocmask); SYSCALL(rt_sigpending);
SYSCALL(rt_sigsuspend); SYSCALL(pause); SYSCALL(rt_sigtimedwait);
SYSCALL(kill); SYSCALL(tkill); SYSCALL(tgkill); SYSCALL(rt_sigqueueinfo);
SYSCALL(rt_tgsigqueueinfo); SYSCALL(pidfd_send_signal);
SYSCALL(sigaltstack); SYSCALL(rt_sigreturn);
/* sys_process.c */
SYSCALL(clone); SYSCALL(fork); SYSCALL(vfork); SYSCALL(clone3);
SYSCALL(execve); SYSCALL(execveat); SYSCALL(exit); SYSCALL(exit_group);
SYSCALL(wait4); SYSCALL(waitid); SYSCALL(set_tid_address);
SYSCALL(getpid); SYSCALL(getppid); SYSCALL(gettid);
SYSCALL(restart_syscall); SYSCALL(setpgid); SYSCALL(getpgid);
SYSCALL(getpgrp); SYSCALL(getsid); SYSCALL(setsid); SYSCALL(pidfd_open);
/* sys_futex.c */
SYSCALL(futex); SYSCALL(set_robust_list); SYSCALL(get_robust_list);
/* sys_sched.c */
SYSCALL(sched_yield); SYSCALL(sched_getaffinity); SYSCALL(sched_setaffinity);
SYSCALL(getcpu); SYSCALL(sched_getscheduler); SYSCALL(sched_setscheduler);
SYSCALL(sched_getparam); SYSCALL(sched_setparam);
SYSCALL(sched_get_priority_max); SYSCALL(sched_get_priority_min);
SYSCALL(sched_rr_get_interval); SYSCALL(getpriority); SYSCALL(setpriority);
SYSCALL(prctl); SYSCALL(seccomp);
/* sys_poll.c */
SYSCALL(poll); SYSCALL(ppoll); SYSCALL(select); SYSCALL(pselect6);
SYSCALL(epoll_create); SYSCALL(epoll_create1); SYSCALL(epoll_ctl);
SYSCALL(epoll_wait); SYSCALL(epoll_pwait); SYSCALL(epoll_pwait2);
/* sys_pipe.c */
SYSCALL(pipe); SYSCALL(pipe2);
/* sys_misc.c */
SYSCALL(uname); SYSCALL(sysinfo); SYSCALL(getrandom); SYSCALL(prlimit64); SYSCALL(getrlimit);
SYSCALL(setrlimit); SYSCALL(arch_prctl);
/* sys_fd.c */
SYSCALL(dup); SYSCALL(dup2); SYSCALL(dup3); SYSCALL(fcntl); SYSCALL(flock);
SYSCALL(ioctl);
SYSCALL(mlock); SYSCALL(mlock2); SYSCALL(munlock); SYSCALL(mlockall);
SYSCALL(munlockall); SYSCALL(fadvise64); SYSCALL(readahead);
SYSCALL(sync_file_range); SYSCALL(sethostname); SYSCALL(setdomainname);
SYSCALL(personality);
SYSCALL(eventfd); SYSCALL(eventfd2);
SYSCALL(timerfd_create); SYSCALL(timerfd_settime); SYSCALL(timerfd_gettime);
SYSCALL(signalfd); SYSCALL(signalfd4);
