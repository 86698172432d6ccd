global using Ksana.Wire;
global using Ksana.Scheduling.Schedules;
global using Ksana.Tests.Support;
