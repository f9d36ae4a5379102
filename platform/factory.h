/* The factory thread (factory.c). Internal to platform/. */
#pragma once

/* Runs fn(arg) on the factory thread and returns what it returns. */
int plat_factory_call(int (*fn)(void *), void *arg);
