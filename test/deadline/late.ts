/** What starving-entry.ts says on stderr when its loop starts after the interrupter may have (a slow machine). */
export const LATE = 'starving-entry: the loop starts late';
