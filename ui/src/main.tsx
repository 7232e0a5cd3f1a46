import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "./styles.css";
import { Link, match, navigate, useLocation } from "./router";
import { SessionProvider, useSession } from "./session";
import { Spinner } from "./components/common";
import { LoginPage, UserInfoPage } from "./pages/Login";
import { AppsListPage } from "./pages/AppsList";
import { AppPage } from "./pages/AppPage";
import { SettingsPage } from "./pages/Settings";
import { DeliveryPage } from "./pages/Delivery";

function Shell() {
  const { user, logout } = useSession();
  const { path } = useLocation();
  if (!user) return <Spinner label="Checking session…" />;
  if (!user.loggedIn) {
    if (path !== "/login") navigate(`/login?return=${encodeURIComponent(location.pathname + location.search)}`, true);
    return <LoginPage />;
  }
  if (path === "/login") {
    navigate("/applications", true);
    return null;
  }
  let page: JSX.Element;
  let m: Record<string, string> | null;
  if ((m = match("/applications/:name", path))) page = <AppPage name={m.name as string} />;
  else if (path === "/" || path === "/applications") page = <AppsListPage />;
  else if ((m = match("/settings/:section", path))) page = <SettingsPage section={m.section as string} />;
  else if (path === "/settings") page = <SettingsPage section="repositories" />;
  else if (path === "/delivery") page = <DeliveryPage />;
  else if (path === "/user-info") page = <UserInfoPage />;
  else page = <div className="page"><h1>Not found</h1><p>No page at {path}. <Link to="/applications">Applications</Link></p></div>;
  const nav = (to: string, label: string) => (
    <Link to={to} className={path === to || path.startsWith(`${to}/`) ? "active" : ""}>{label}</Link>
  );
  return (
    <div className="shell">
      <nav className="side" aria-label="Main">
        <div className="brand">⚓ Argosy</div>
        {nav("/applications", "Applications")}
        {nav("/delivery", "Delivery")}
        {nav("/settings", "Settings")}
        {nav("/user-info", "User info")}
        <div className="grow" />
        <div className="who" data-testid="who">{user.username}</div>
        <button className="ghost" onClick={() => void logout()} data-testid="logout">Log out</button>
      </nav>
      <main>{page}</main>
    </div>
  );
}

createRoot(document.getElementById("root") as HTMLElement).render(
  <StrictMode>
    <SessionProvider>
      <Shell />
    </SessionProvider>
  </StrictMode>,
);
