export const audience: string = 'api';
