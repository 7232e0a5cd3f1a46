import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { clearCanCache, del, get, getToken, setToken, setUnauthorisedHandler } from "./api";

export interface UserInfo {
  loggedIn: boolean;
  username?: string;
  iss?: string;
  groups?: string[];
}

interface Session {
  user: UserInfo | null;
  refresh: () => Promise<void>;
  logout: () => Promise<void>;
}

const Ctx = createContext<Session>({ user: null, refresh: async () => undefined, logout: async () => undefined });
export const useSession = () => useContext(Ctx);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<UserInfo | null>(null);
  const refresh = useCallback(async () => {
    clearCanCache();
    try {
      setUser(await get<UserInfo>("/api/v1/session/userinfo"));
    } catch {
      setUser({ loggedIn: false });
    }
  }, []);
  const logout = useCallback(async () => {
    try {
      if (getToken() || document.cookie) await del("/api/v1/session");
    } catch {
      /* the session may already be gone */
    }
    setToken("");
    clearCanCache();
    setUser({ loggedIn: false });
  }, []);
  useEffect(() => {
    setUnauthorisedHandler(() => setUser({ loggedIn: false }));
    void refresh();
  }, [refresh]);
  return <Ctx.Provider value={{ user, refresh, logout }}>{children}</Ctx.Provider>;
}
